#!/usr/bin/env python
# coding: utf-8

# # Assignment 2, §1: Understanding attention

# In[1]:


get_ipython().system('pip install -q torch')
from google.colab import drive
drive.mount('/content/drive')
get_ipython().run_line_magic('matplotlib', 'inline')

import torch
import torch.nn.functional as F
import matplotlib.pyplot as plt


# ## 1.1 Background
#
# ### The keys and values

# In[2]:


torch.manual_seed(447)
key = torch.randn(4, 3)
key = key / key.norm(dim=1, keepdim=True)
key.round_(decimals=2)
value = torch.randn(4, 3)
value = value / value.norm(dim=1, keepdim=True)
value.round_(decimals=2)
print(key)
print(value)

def attention(q, k, v):
    return torch.softmax(q @ k.T, dim=-1) @ v


# ## 1.2 Selection via attention
#
# ### 1.2.1

# In[3]:


query121 = key[0]  # first try: not sharp enough
print(attention(query121, key, value))

query121 = 50 * key[0]
print(attention(query121, key, value), value[0])


# ### 1.2.2

# In[4]:


query122 = key
query122 = 50 * query122
print(attention(query122, key, value) - value)


# ## 1.3 Averaging via attention
#
# ### 1.3.1

# In[5]:


query131 = torch.zeros(3)
print(attention(query131, key, value), value.mean(dim=0))


# ### 1.3.2

# In[6]:


query132 = 20 * (key[0] + key[1])
print(attention(query132, key, value), (value[0] + value[1]) / 2)


# ## 1.4 Interactions within attention
#
# ### 1.4.1

# In[7]:


key141 = key.clone()
key141[2] = (key[0] + key[1]) / 2
print(attention(query132, key141, value))


# ### 1.4.2

# In[8]:


key142 = key.clone()
key142[2] = (key[0] + key[1]) / (key[0] + key[1]).norm()
print(key142[2].norm(), attention(query132, key142, value), value[2])

