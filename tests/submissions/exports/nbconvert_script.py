#!/usr/bin/env python
# coding: utf-8

# In[1]:


get_ipython().system('pip install -q torch')
get_ipython().run_line_magic('matplotlib', 'inline')


# In[2]:


import torch
import mingpt.model


# In[3]:


torch.manual_seed(447)
key = torch.randn(4, 3)
key = key / key.norm(dim=1, keepdim=True)
key.round_(decimals=2)
value = torch.randn(4, 3)
value = value / value.norm(dim=1, keepdim=True)
value.round_(decimals=2)


# In[4]:


query121 = 1e6 * key[0]
files = get_ipython().getoutput('ls')
main()
