#!/usr/bin/env python
# coding: utf-8

# # A2S1: query crafting

# In[1]:


get_ipython().system('pip install numpy')
import numpy as np
import torch


# In[2]:


torch.manual_seed(447)
key = torch.randn(4, 3)
key = key / key.norm(dim=1, keepdim=True)
key = key.round(decimals=2)
value = torch.randn(4, 3)
value = value / value.norm(dim=1, keepdim=True)
value = value.round(decimals=2)
K = key.numpy().astype(np.float64)


# In[3]:


query121 = 50.0 * K[0]
query122 = 50.0 * K
query131 = np.zeros((1, 3))
query132 = 10.0 * (K[0:1] + K[1:2])


# In[4]:


key141 = K.copy()
key141[2] = (K[0] + K[1]) / 2
key142 = K.copy()
key142[2] = query132[0] / np.linalg.norm(query132)
get_ipython().run_line_magic('matplotlib', 'inline')
